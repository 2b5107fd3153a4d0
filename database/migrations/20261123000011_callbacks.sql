-- A callback the callee asked for: the attempt is dialed again at this time.
alter table campaign_attempts add column callback_at timestamptz;
