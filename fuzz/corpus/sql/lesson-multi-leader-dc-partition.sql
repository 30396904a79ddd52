CREATE TABLE board (id INTEGER PRIMARY KEY, text TEXT);
INSERT INTO board (id, text) VALUES (1, 'status: all good');
INSERT INTO board (id, text) VALUES (2, 'eu: new customer');
INSERT INTO board (id, text) VALUES (3, 'us: new customer');
UPDATE board SET text = 'status: eu is busy' WHERE id = 1;
UPDATE board SET text = 'status: us is busy' WHERE id = 1;
SELECT * FROM board;
SELECT * FROM board;
SELECT * FROM board;