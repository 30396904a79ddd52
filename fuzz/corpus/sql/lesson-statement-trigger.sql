CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT, qty INTEGER);
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER, note TEXT, at TIMESTAMP);
CREATE TRIGGER audit_orders AFTER INSERT ON orders BEGIN INSERT INTO audit (order_id, note, at) VALUES (NEW.id, 'ordered ' || NEW.item, NOW()); END;
INSERT INTO orders (item, qty) VALUES ('book', 1);
INSERT INTO orders (item, qty) VALUES ('lamp', 2);
UPDATE orders SET qty = qty + 1 WHERE item = 'book';