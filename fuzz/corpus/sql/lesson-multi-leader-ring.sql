CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT);
INSERT INTO events (id, what) VALUES (1, 'a before the crash');
INSERT INTO events (id, what) VALUES (2, 'c before the crash');
INSERT INTO events (id, what) VALUES (3, 'a after the crash');
INSERT INTO events (id, what) VALUES (4, 'c after the crash');
SELECT * FROM events;
SELECT * FROM events;