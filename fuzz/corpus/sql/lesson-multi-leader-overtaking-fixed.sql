CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT, state TEXT);
INSERT INTO tasks (id, title, state) VALUES (1, 'write report', 'open');
UPDATE tasks SET state = 'done' WHERE id = 1;
SELECT * FROM tasks;
SELECT * FROM tasks;