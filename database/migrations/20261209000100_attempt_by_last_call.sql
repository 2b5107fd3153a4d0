-- A call's status callback settles its attempt, found by `last_call_id` among the
-- attempts still dialing or in a call (engine/outcome.rs). Without an index on
-- `last_call_id` that lookup went through campaign_attempts_state_idx on `state` alone:
-- every callback read every in-flight attempt of every campaign, ~1,200 rows per dial in
-- `./dev bench engine` (issue 17). Partial on the same states, so only the attempt rows
-- written while dialing or in a call get an entry: the states' updates already change an
-- indexed column (state), so they write index entries anyway.
create index campaign_attempts_last_call_idx on campaign_attempts (last_call_id)
    where state in ('dialing', 'in_call');
