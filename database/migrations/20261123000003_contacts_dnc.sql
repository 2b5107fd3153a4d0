-- Contact lists, contacts, CSV imports with their per-row reports, and the Do-Not-Call list.

create table contact_lists (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    name text not null,
    description text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index contact_lists_org_id_idx on contact_lists (org_id, created_at desc);
create trigger contact_lists_updated_at before update on contact_lists
    for each row execute function set_updated_at();

create table contacts (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    list_id uuid not null references contact_lists (id) on delete cascade,
    phone text not null,
    name text,
    email text,
    timezone text,
    variables jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    unique (list_id, phone)
);
create index contacts_org_list_idx on contacts (org_id, list_id, created_at);

create table imports (
    id uuid primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    -- 'contacts' (into list_id) or 'dnc'.
    kind text not null check (kind in ('contacts', 'dnc')),
    list_id uuid references contact_lists (id) on delete cascade,
    status text not null check (status in ('running', 'completed', 'failed')),
    default_country text,
    total_rows bigint not null default 0,
    accepted bigint not null default 0,
    rejected bigint not null default 0,
    failure text,
    created_at timestamptz not null default now(),
    finished_at timestamptz
);
create index imports_org_idx on imports (org_id, created_at desc);

-- The full report of rejected rows; the upload answer carries only the first ones.
create table import_errors (
    import_id uuid not null references imports (id) on delete cascade,
    row_no bigint not null,
    phone text,
    reason text not null,
    primary key (import_id, row_no)
);

create table dnc (
    org_id uuid not null references organizations (id) on delete cascade,
    phone text not null,
    reason text,
    created_at timestamptz not null default now(),
    primary key (org_id, phone)
);
