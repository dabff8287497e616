-- Demo schema for scripts/devcluster: users and their posts, cached by id and by username.
CREATE TABLE IF NOT EXISTS users (
  id        bigint PRIMARY KEY,
  username  text NOT NULL UNIQUE,
  name      text NOT NULL,
  bio       text NOT NULL DEFAULT ''
);
-- user_by_name:{username} needs the old username on UPDATE/DELETE: FULL supplies it.
ALTER TABLE users REPLICA IDENTITY FULL;

CREATE TABLE IF NOT EXISTS posts (
  id       bigint PRIMARY KEY,
  user_id  bigint NOT NULL REFERENCES users(id),
  title    text NOT NULL,
  body     text NOT NULL DEFAULT ''
);
ALTER TABLE posts REPLICA IDENTITY FULL;

INSERT INTO users (id, username, name)
  SELECT g, 'user' || g, 'User ' || g FROM generate_series(1, 1000) g
  ON CONFLICT DO NOTHING;
