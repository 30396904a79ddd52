CREATE TABLE events (id INTEGER PRIMARY KEY, title TEXT, at TEXT);
INSERT INTO events (id, title, at) VALUES (1, 'dentist', 'Tue 9:00');
INSERT INTO events (id, title, at) VALUES (2, 'lunch with Sam', 'Wed 12:30');
UPDATE events SET at = 'Tue 10:00' WHERE id = 1;
UPDATE events SET at = 'Tue 8:30' WHERE id = 1;
SELECT * FROM events;
UPDATE events SET at = 'Tue 10:00' WHERE id = 1;
SELECT * FROM events;