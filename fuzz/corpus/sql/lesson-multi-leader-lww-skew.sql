CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs (id, body) VALUES (1, 'teh draft');
SELECT * FROM docs;
UPDATE docs SET body = 'the draft' WHERE id = 1;
SELECT * FROM docs;
SELECT * FROM docs;