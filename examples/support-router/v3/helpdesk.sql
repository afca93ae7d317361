-- The example's helpdesk store (SQLite). Synthetic: no real customer or ticket is ever written here.
-- The same statements are the connector's init_sql in each version's agent.yaml (run once per process).
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, tier TEXT NOT NULL, synthetic INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, subject TEXT, channel TEXT, queue TEXT NOT NULL, priority TEXT, status TEXT NOT NULL DEFAULT 'open', routed_by TEXT, synthetic INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS replies (id INTEGER PRIMARY KEY, ticket_id TEXT NOT NULL, template TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS escalations (id INTEGER PRIMARY KEY, ticket_id TEXT NOT NULL, reason TEXT NOT NULL);
