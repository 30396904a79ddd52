CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, country TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, customer INTEGER, total REAL);
INSERT INTO customers (name, country) VALUES ('Anouk', 'NL'), ('Bram', 'BE'), ('Cas', 'NL');
INSERT INTO orders (customer, total) VALUES (1, 20.5);
UPDATE customers SET country = 'NL' WHERE name = 'Bram';
INSERT INTO customers (name, country) VALUES ('Eva', 'NL'), ('Finn', 'DE');
UPDATE customers SET country = 'DE' WHERE name = 'Cas';