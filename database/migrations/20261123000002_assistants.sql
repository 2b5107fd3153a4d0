-- Assistants and their versions: every edit is a new version, calls record the one used.

create table assistants (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    name text not null,
    current_version integer not null default 1,
    -- The current definition (prompt, voice, providers, tools) as the API shows it.
    definition jsonb not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index assistants_org_id_idx on assistants (org_id, created_at desc);
create trigger assistants_updated_at before update on assistants
    for each row execute function set_updated_at();

create table assistant_versions (
    assistant_id uuid not null references assistants (id) on delete cascade,
    org_id uuid not null references organizations (id) on delete cascade,
    version integer not null,
    name text not null,
    definition jsonb not null,
    created_at timestamptz not null default now(),
    primary key (assistant_id, version)
);
