CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, balance INTEGER);
INSERT INTO accounts (name, balance) VALUES ('ada', 10);
INSERT INTO accounts (name, balance) VALUES ('bob', 20);
UPDATE accounts SET balance = 11 WHERE name = 'ada';
INSERT INTO accounts (name, balance) VALUES ('eve', 50);
INSERT INTO accounts (name, balance) VALUES ('dan', 40);