CREATE TABLE profiles (id INTEGER PRIMARY KEY, city TEXT);
INSERT INTO profiles (id, city) VALUES (1, 'Berlin');
UPDATE profiles SET city = 'Hamburg' WHERE id = 1;
UPDATE profiles SET city = 'Munich' WHERE id = 1;
UPDATE profiles SET city = 'Boston' WHERE id = 1;
UPDATE profiles SET city = 'Cologne' WHERE id = 1;
SELECT * FROM profiles;