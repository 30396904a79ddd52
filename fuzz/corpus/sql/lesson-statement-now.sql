CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT, placed_at TIMESTAMP, coupon REAL);
INSERT INTO orders (item, placed_at, coupon) VALUES ('book', NOW(), RAND());
INSERT INTO orders (item, placed_at, coupon) VALUES ('lamp', NOW(), RAND());
UPDATE orders SET placed_at = NOW() WHERE item = 'book';
INSERT INTO orders (item, placed_at, coupon) VALUES ('desk', '2026-01-01 00:00:00', 0.5);