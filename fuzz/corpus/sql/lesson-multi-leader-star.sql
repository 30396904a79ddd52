CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT);
INSERT INTO events (id, what) VALUES (1, 'from a');
INSERT INTO events (id, what) VALUES (2, 'from b');
INSERT INTO events (id, what) VALUES (3, 'from c');
SELECT * FROM events;
INSERT INTO events (id, what) VALUES (4, 'a while the hub is down');
SELECT * FROM events;
SELECT * FROM events;