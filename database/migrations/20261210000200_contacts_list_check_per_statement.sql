-- A contact's list (and its organization) is checked once per statement instead of once
-- per row.
--
-- The foreign key `contacts_list_org_fkey` ran a referential-integrity query for every
-- inserted contact: a lookup of the list and a row lock, each through a small executor.
-- Measured on a 95,000-row import into one list (one backend, `/proc` CPU time), the
-- import's insert took 1.42-1.49 CPU-s with the key, 1.09-1.18 with the check below and
-- 1.00 with neither: the key was a quarter of the insert. An import writes thousands of
-- contacts of one list per statement, so checking the statement's distinct
-- (list_id, org_id) pairs does the same job once per list.
--
-- What the key did, and what does it now:
-- - an inserted or updated contact must name an existing list of its own organization,
--   and that list is locked `for key share` until the transaction ends, so a concurrent
--   delete of the list waits and then removes the contact too: `contacts_list_check`,
--   after each insert or update statement, over the statement's new rows. The error is
--   the key's: SQLSTATE 23503 naming `contacts_list_org_fkey`.
-- - deleting a list deletes its contacts (`on delete cascade`), also when the list goes
--   with its organization: `contact_lists_delete_contacts`, after each deleted list.
-- - a list's id or organization cannot change while contacts point at it:
--   `contact_lists_keep_key`.
-- `truncate contact_lists` is already refused by the keys of campaigns and imports unless
-- it cascades; a cascading truncate now leaves contacts behind, as with any table no key
-- names. The application never truncates.

create function contacts_list_check() returns trigger
language plpgsql as $$
declare
    wanted bigint;
    locked bigint;
begin
    select count(*) into wanted
    from (select distinct list_id, org_id from new_contacts) n;
    -- Lock first, then count what was found: a list deleted concurrently is waited for,
    -- and is then not found.
    perform 1
    from contact_lists l
    join (select distinct list_id, org_id from new_contacts) n
      on l.id = n.list_id and l.org_id = n.org_id
    for key share of l;
    get diagnostics locked = row_count;
    if locked < wanted then
        raise foreign_key_violation using
            message = 'insert or update on table "contacts" violates foreign key constraint "contacts_list_org_fkey"',
            detail = 'A contact''s (list_id, org_id) is not a row of "contact_lists".',
            table = 'contacts',
            constraint = 'contacts_list_org_fkey';
    end if;
    return null;
end $$;

create trigger contacts_list_check_insert
    after insert on contacts
    referencing new table as new_contacts
    for each statement execute function contacts_list_check();

create trigger contacts_list_check_update
    after update on contacts
    referencing new table as new_contacts
    for each statement execute function contacts_list_check();

create function contact_lists_delete_contacts() returns trigger
language plpgsql as $$
begin
    delete from contacts where list_id = old.id;
    return null;
end $$;

create trigger contact_lists_delete_contacts
    after delete on contact_lists
    for each row execute function contact_lists_delete_contacts();

create function contact_lists_keep_key() returns trigger
language plpgsql as $$
begin
    if exists (select 1 from contacts where list_id = old.id) then
        raise foreign_key_violation using
            message = 'update on table "contact_lists" violates foreign key constraint "contacts_list_org_fkey" on table "contacts"',
            table = 'contact_lists',
            constraint = 'contacts_list_org_fkey';
    end if;
    return new;
end $$;

create trigger contact_lists_keep_key
    before update of id, org_id on contact_lists
    for each row
    when (old.id is distinct from new.id or old.org_id is distinct from new.org_id)
    execute function contact_lists_keep_key();

alter table contacts drop constraint contacts_list_org_fkey;
