-- fwaudit fleet schema 1 on PostgreSQL. Text that is ordered or compared
-- is COLLATE "C" (byte order), the order the embedded store answers in.

-- Images: the whole record (zstd-compressed JSON of ImageRecord), and what
-- queries read without loading it.
CREATE TABLE images (
    sha text COLLATE "C" PRIMARY KEY,
    record bytea NOT NULL,
    scanned_at text NOT NULL,
    -- firmware versions, newline-separated
    firmware_versions text NOT NULL DEFAULT '',
    -- bumped by every write: a rematch tells a record triaged meanwhile
    rev bigint NOT NULL DEFAULT 1,
    -- DayCounts list (JSON)
    trend text NOT NULL DEFAULT '[]'
);

-- Firmware version -> the image last stored under it.
CREATE TABLE firmware_versions (
    version text COLLATE "C" PRIMARY KEY,
    image text COLLATE "C" NOT NULL
);

-- component -> images: `fleet where`.
CREATE TABLE components (
    name text COLLATE "C" NOT NULL,
    image text COLLATE "C" NOT NULL REFERENCES images (sha) ON DELETE CASCADE,
    version text COLLATE "C" NOT NULL,
    ecosystem text NOT NULL,
    PRIMARY KEY (name, image, version)
);
CREATE INDEX components_image ON components (image);

-- Every finding of every image in any state (FindingRow), and what
-- needs-patch reads of the active vulnerable ones.
CREATE TABLE findings (
    image text COLLATE "C" NOT NULL REFERENCES images (sha) ON DELETE CASCADE,
    key text COLLATE "C" NOT NULL,
    kind text NOT NULL,
    state text NOT NULL,
    severity smallint NOT NULL,
    component text COLLATE "C",
    advisory text COLLATE "C",
    rule text,
    path text,
    summary text NOT NULL,
    first_seen text NOT NULL,
    -- JSON list, and its first entry
    fixed_versions text NOT NULL DEFAULT '[]',
    first_fixed text,
    upgrade text,
    PRIMARY KEY (image, key)
);
-- needs-patch --min-severity: the active vulnerable findings from a rank up.
CREATE INDEX findings_patch ON findings (severity, image, key)
    WHERE state = 'active' AND kind = 'vulnerable'
      AND advisory IS NOT NULL AND component IS NOT NULL;

-- advisory (id or alias) -> findings -> images: needs-patch --advisory,
-- the advisory's images. Every finding naming an advisory, in any state.
CREATE TABLE finding_names (
    name text COLLATE "C" NOT NULL,
    image text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    PRIMARY KEY (name, image, key),
    FOREIGN KEY (image, key) REFERENCES findings (image, key) ON DELETE CASCADE
);
CREATE INDEX finding_names_finding ON finding_names (image, key);

CREATE TABLE devices (
    id text COLLATE "C" PRIMARY KEY,
    model text COLLATE "C" NOT NULL,
    tags text[] COLLATE "C" NOT NULL DEFAULT '{}',
    firmware text NOT NULL,
    -- the stored image it runs (may name an image not stored yet)
    image text COLLATE "C",
    last_seen text NOT NULL,
    -- JSON object, NULL when empty
    facts text
);
-- image -> devices, in id order: keyset pages of an image's devices.
CREATE INDEX devices_image ON devices (image, id) INCLUDE (model, tags);
CREATE INDEX devices_tags ON devices USING gin (tags);

-- Devices per image and per (tag, image), kept with every device write so
-- that fleet-wide counts read a row per image, not a row per device.
CREATE TABLE image_counts (
    image text COLLATE "C" PRIMARY KEY,
    n bigint NOT NULL
);
CREATE TABLE tag_counts (
    tag text COLLATE "C" NOT NULL,
    image text COLLATE "C" NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (tag, image)
);

CREATE TABLE device_history (
    device text COLLATE "C" NOT NULL,
    at text COLLATE "C" NOT NULL,
    seq bigserial,
    entry text NOT NULL,
    PRIMARY KEY (device, at, seq)
);

CREATE TABLE triage (
    image text COLLATE "C" NOT NULL,
    finding text COLLATE "C" NOT NULL,
    decision text NOT NULL,
    PRIMARY KEY (image, finding)
);
CREATE TABLE audit (
    seq bigserial PRIMARY KEY,
    entry text NOT NULL
);

CREATE TABLE api_keys (id text COLLATE "C" PRIMARY KEY, record text NOT NULL);
CREATE TABLE users (name text COLLATE "C" PRIMARY KEY, record text NOT NULL);
CREATE TABLE device_tokens (
    device text COLLATE "C" PRIMARY KEY,
    hash text NOT NULL,
    record text NOT NULL
);
CREATE TABLE hooks (id text COLLATE "C" PRIMARY KEY, record text NOT NULL);
CREATE TABLE deliveries (
    seq bigserial PRIMARY KEY,
    hook text COLLATE "C" NOT NULL,
    record text NOT NULL
);
CREATE INDEX deliveries_hook ON deliveries (hook, seq);

-- The job queue: workers claim with FOR UPDATE SKIP LOCKED and hold a
-- lease they renew; an expired lease is claimed again.
CREATE TABLE jobs (
    id text COLLATE "C" PRIMARY KEY,
    kind text NOT NULL,
    state text NOT NULL,
    created text COLLATE "C" NOT NULL,
    -- the Job (JSON); state, attempts and worker are the columns'
    record text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    -- how many times a worker stored its result (exactly once, or a bug)
    completions integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_token text,
    lease_until timestamptz,
    not_before timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_open ON jobs (created, id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_newest ON jobs (created DESC, id DESC);

-- Bumped after every commit that changes findings or device placement:
-- API nodes reuse cached answers while it stays the same.
CREATE SEQUENCE fleet_generation;
