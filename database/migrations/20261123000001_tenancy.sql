-- Organizations, users and API keys: who may use the API, and whose rows are whose.

create or replace function set_updated_at() returns trigger as $$
begin
    new.updated_at = now();
    return new;
end;
$$ language plpgsql;

create table organizations (
    id uuid primary key,
    name text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger organizations_updated_at before update on organizations
    for each row execute function set_updated_at();

create table users (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    email text not null,
    password_hash text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index users_email_key on users (lower(email));
create index users_org_id_idx on users (org_id);
create trigger users_updated_at before update on users
    for each row execute function set_updated_at();

create table api_keys (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    name text not null,
    -- The first characters of the key, shown in lists so people can tell keys apart.
    prefix text not null,
    -- SHA-256 of the whole key: keys are long random strings, so a fast hash is enough
    -- and lets every request look its key up by index.
    key_hash text not null unique,
    created_by uuid references users (id) on delete set null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
create index api_keys_org_id_idx on api_keys (org_id);
