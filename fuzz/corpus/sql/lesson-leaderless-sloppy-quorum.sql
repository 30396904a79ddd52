CREATE TABLE carts (id INTEGER PRIMARY KEY, items TEXT);
INSERT INTO carts (id, items) VALUES (1, 'milk');
INSERT INTO carts (id, items) VALUES (1, 'milk,coffee');
SELECT items FROM carts WHERE id = 1;
SELECT items FROM carts WHERE id = 1;