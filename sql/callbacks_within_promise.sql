-- Callbacks within the service promise (Takaisinsoittolupauksen pito): callbacks whose first
-- call-back attempt reached the customer before the end of the next working day after the
-- request / all callbacks requested whose deadline has passed by the time the contact data
-- reaches (max(received_at) over contacts). Open callbacks whose deadline has passed count
-- as promise broken; those whose deadline is still ahead are not counted yet.
-- Periods by the contact's arrival (received_at), like the other contact-centre tiles.
-- Totals, then by service and by sector.
WITH through AS (
    SELECT MAX(received_at) AS data_through FROM contacts
),
due AS (
    SELECT
        fi_period(received_at) AS period,
        service,
        sector,
        CASE
            WHEN callback_reached_at IS NOT NULL
                 AND callback_reached_at < fi_deadline(callback_requested_at, 1) THEN 1
            ELSE 0
        END AS kept
    FROM contacts CROSS JOIN through
    WHERE callback_requested
      AND callback_requested_at IS NOT NULL
      AND fi_deadline(callback_requested_at, 1) <= through.data_through
)
SELECT
    period,
    CASE
        WHEN GROUPING(service) = 0 THEN 'service'
        WHEN GROUPING(sector) = 0 THEN 'sector'
    END AS dimension,
    CASE
        WHEN GROUPING(service) = 0 THEN service
        WHEN GROUPING(sector) = 0 THEN sector
    END AS member,
    100.0 * SUM(kept) / COUNT(*) AS value,
    SUM(kept) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM due
GROUP BY GROUPING SETS ((period), (period, service), (period, sector))
