-- Callback delay (Takaisinsoittoviive): median hours from the callback request to the first
-- call-back attempt that reached the customer, over completed (reached) callbacks.
-- Periods by the contact's arrival (received_at), like the other contact-centre tiles, so the
-- callback figures of a period describe the same contacts. Totals, then by service and by sector.
WITH done AS (
    SELECT
        fi_period(received_at) AS period,
        service,
        sector,
        (CAST(callback_reached_at AS BIGINT) - CAST(callback_requested_at AS BIGINT)) / 3600000000.0 AS hours
    FROM contacts
    WHERE callback_requested
      AND callback_requested_at IS NOT NULL
      AND callback_reached_at IS NOT NULL
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
    MEDIAN(hours) AS value,
    COUNT(*) AS n
FROM done
GROUP BY GROUPING SETS ((period), (period, service), (period, sector))
