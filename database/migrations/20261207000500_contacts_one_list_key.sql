-- A contact's list and organization are checked by one foreign key instead of two.
--
-- Every inserted contact ran two referential-integrity checks (list_id -> contact_lists,
-- org_id -> organizations), each a lookup and a row lock; on a million-row CSV import they
-- were about a third of PostgreSQL's time. One composite key does both jobs and is
-- stricter: a contact's org_id must be its list's org_id, which the two keys never said.
-- Deleting an organization still removes its contacts, through its lists (their org_id
-- cascades), and deleting a list still removes its contacts.
create unique index contact_lists_id_org_key on contact_lists (id, org_id);

alter table contacts
    add constraint contacts_list_org_fkey foreign key (list_id, org_id)
        references contact_lists (id, org_id) on delete cascade,
    drop constraint contacts_list_id_fkey,
    drop constraint contacts_org_id_fkey;
