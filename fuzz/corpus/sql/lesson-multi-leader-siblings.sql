CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT);
INSERT INTO pages (id, title) VALUES (1, 'A');
UPDATE pages SET title = 'B' WHERE id = 1;
UPDATE pages SET title = 'C' WHERE id = 1;
SELECT * FROM pages WHERE id = 1;
UPDATE pages SET title = 'B and C' WHERE id = 1;
SELECT * FROM pages;