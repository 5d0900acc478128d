-- 0010_outbox_retention: merchant events are deleted once they are settled
-- (delivered or failed) and older than events.retention, with their
-- deliveries (PurgeOutboxEvents). This partial index holds the settled
-- events alone, oldest first, so that each purge reads only what it
-- deletes: the pending ones, which outbox_due serves, are not in it. An
-- event enters it when its delivery settles.
CREATE INDEX IF NOT EXISTS outbox_settled ON outbox_events (created_at) WHERE state <> 'pending';
