CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT);
INSERT INTO orders (item) VALUES ('eu: lamp');
INSERT INTO orders (item) VALUES ('us: desk');
INSERT INTO orders (item) VALUES ('eu: chair');
INSERT INTO orders (item) VALUES ('us: shelf');
SELECT * FROM orders;