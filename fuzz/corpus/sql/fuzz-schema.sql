CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT UNIQUE, score REAL, n);
CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT, owner TEXT DEFAULT 'alice', at TIMESTAMP);
CREATE TABLE kv (k TEXT PRIMARY KEY, v NUMERIC);
CREATE TABLE notes (body, stamp BOOLEAN);
CREATE TRIGGER audit AFTER INSERT ON users BEGIN INSERT INTO kv VALUES ('u' || NEW.id, NEW.n); END;
INSERT INTO users (name, email, score, n) VALUES ('ann', 'a@x', 1.5, 1), ('bob', NULL, -2, 'x');
INSERT INTO posts (id, body) VALUES (1, 'hello'), (7, 'world');
INSERT INTO notes VALUES ('n', TRUE);