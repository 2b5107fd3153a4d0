-- The engine measures each running campaign's abandonment on every dispatch (every tick,
-- 500 ms by default; compliance/abandonment.rs): a count over the campaign's calls of
-- the last 30 days. Through calls_campaign_idx it read every one of those calls from the
-- heap, most of them never answered by a person, to count the few that were. This index
-- holds only the calls the count counts (its where clause is the query's, so the planner
-- can use it) with the one column it reads, for an index-only scan: on 100,000 calls of
-- which 12,500 count, 7 ms instead of 37 ms. Unanswered calls never get an entry.
create index calls_abandonment_idx on calls (campaign_id, created_at)
    include (first_agent_audio_ms)
    where answered_at is not null and ended_at is not null
      and latency ? 'firstAudioMs'
      and coalesce(answered_by, 'human') not like 'machine%'
      and coalesce(answered_by, 'human') <> 'fax';
