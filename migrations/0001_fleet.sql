-- Fleet registry (PROTOCOL §11). Applied with `wrangler d1 migrations apply FLEET` (add --local for
-- wrangler dev); the Worker also applies any migration it finds missing on its first query
-- (src/fleet/schema.ts), recording it in the same d1_migrations table, so the two never disagree.
-- Statements are idempotent (IF NOT EXISTS) because two isolates may apply them at once.

-- One row per device that passed an OTA check or connected. Written by the Worker (OTA checks) and
-- by each device's own Durable Object (connect, disconnect, mode, profile, inbox), never through a
-- shared object.
CREATE TABLE IF NOT EXISTS devices (
  device_id TEXT PRIMARY KEY,
  -- What the operator sees: the profile's alias, else DEVICE_ALIASES; NULL when neither.
  alias TEXT,
  -- lower(alias) for case-insensitive prefix search (SQLite's lower() folds only ASCII).
  alias_lc TEXT,
  -- The profile's group, else DEVICE_GROUPS, else the id's first 8 characters.
  group_key TEXT NOT NULL,
  -- The profile's own values, kept so an OTA check (which knows only the settings) does not undo them.
  profile_alias TEXT,
  profile_group TEXT,
  board TEXT,
  firmware TEXT,
  online INTEGER NOT NULL DEFAULT 0,
  -- An online row counts as online only until then: the device's object renews it while a socket
  -- lives, so a row left behind by an object that was reset (a deploy) goes offline by itself.
  lease_until INTEGER NOT NULL DEFAULT 0,
  -- When the live connection started (ms), NULL when offline.
  since INTEGER,
  mode TEXT,
  -- Messages waiting in the device's offline inbox, as of its object's last report.
  inbox INTEGER NOT NULL DEFAULT 0,
  -- Last OTA check, connect or disconnect (ms).
  last_seen INTEGER NOT NULL,
  -- Time of the object's latest state report: an older report arriving late changes nothing.
  state_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS devices_by_seen ON devices (last_seen DESC, device_id);
CREATE INDEX IF NOT EXISTS devices_by_group ON devices (group_key, last_seen DESC, device_id);
CREATE INDEX IF NOT EXISTS devices_by_online ON devices (online, last_seen DESC, device_id);
CREATE INDEX IF NOT EXISTS devices_by_alias ON devices (alias_lc);

-- Pending activation codes (OTA_ACTIVATION=required): unique among pending ones, so an operator can
-- bind a device by its code alone. The device's object owns its code; this is the lookup.
CREATE TABLE IF NOT EXISTS activations (
  code TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activations_by_device ON activations (device_id);
CREATE INDEX IF NOT EXISTS activations_by_expiry ON activations (expires_at);

-- Voice turns of the last hours, for GET /api/stats (pruned as turns are added).
CREATE TABLE IF NOT EXISTS voice_turns (
  at INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  first_frame_ms INTEGER
);
CREATE INDEX IF NOT EXISTS voice_turns_by_at ON voice_turns (at);
