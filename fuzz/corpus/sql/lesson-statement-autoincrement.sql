CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT);
BEGIN;
INSERT INTO orders (item) VALUES ('alice: book');
INSERT INTO orders (item) VALUES ('bob: lamp');
COMMIT;
INSERT INTO orders (item) VALUES ('bob: desk');