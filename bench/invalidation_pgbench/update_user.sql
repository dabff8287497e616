-- One single-row UPDATE per transaction: what a Django app does on save().
\set id random(1, :rows)
UPDATE bench_users SET score = score + 1 WHERE id = :id;
