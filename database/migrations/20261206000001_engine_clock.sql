-- One source of time for the engine's rules (ARCHITECTURE.md, "One clock for every rule").
--
-- `calls.updated_at` is stamped by a trigger with the database's now(); reconciliation and
-- the orphan safety net used to compare it with now() too, so a rule mixed two clocks:
-- the application's (every due time, lease and window) and the database's. `heard_at` is
-- when the control plane last heard from the provider about the call, or last asked,
-- always on the application's clock, and it is what those rules read. `updated_at` stays
-- an audit stamp that no rule reads.
alter table calls add column heard_at timestamptz;
update calls set heard_at = updated_at;
alter table calls alter column heard_at set not null;

-- A call is first heard of when it is created: an insert that names no `heard_at` takes
-- the row's `created_at`, which the engine writes from its clock (a default cannot name
-- another column, and now() would be the database's clock again).
create function calls_heard_at_from_created() returns trigger language plpgsql as $$
begin
    new.heard_at = coalesce(new.heard_at, new.created_at);
    return new;
end $$;
create trigger calls_heard_at before insert on calls
    for each row execute function calls_heard_at_from_created();
create index calls_live_heard_at on calls (heard_at)
    where status in ('queued', 'initiated', 'ringing', 'in_progress');

-- Attempts were queued with the database's now() as their first due time; the
-- application passes its own now() instead.
alter table campaign_attempts alter column next_attempt_at drop default;
