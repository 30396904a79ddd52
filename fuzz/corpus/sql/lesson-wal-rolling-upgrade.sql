CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
INSERT INTO users (name) VALUES ('ann');
INSERT INTO users (name) VALUES ('bob');
INSERT INTO users (name) VALUES ('cy');
INSERT INTO users (name) VALUES ('dee');
INSERT INTO users (name) VALUES ('eve');
INSERT INTO users (name) VALUES ('fay');
INSERT INTO users (name) VALUES ('gus');
INSERT INTO users (name) VALUES ('hal');