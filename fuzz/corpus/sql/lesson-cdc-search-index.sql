CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, body TEXT);
INSERT INTO posts (title, body) VALUES ('Replication', 'leaders and followers keep copies');
INSERT INTO posts (title, body) VALUES ('Lag', 'followers may be behind the leader');
UPDATE posts SET body = 'eventual consistency: followers catch up' WHERE id = 2;
INSERT INTO posts (title, body) VALUES ('Quorums', 'read and write quorums overlap');
DELETE FROM posts WHERE id = 1;