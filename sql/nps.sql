-- Customer NPS (Asiakaskokemus, NPS-suositteluindeksi): 100 × (promoters 9–10 − detractors
-- 0–6) / responses, rounded to one decimal; n = responses. Periods with fewer than min_n
-- responses are suppressed and breakdown cells under min_cell_n are never shown (see toml).
-- Totals, then by unit, service, sector and channel.
--
-- A unit that was renamed or merged into another (config/lookups/units.toml: `valid_to`,
-- `successor`) is one series under the name it continues as today, over every period, with
-- the lookup's note on what happened; other units are named as the survey names them.
WITH responses AS (
    SELECT
        fi_period(f.answered_at) AS period,
        CASE WHEN s.note IS NOT NULL THEN s.series_unit ELSE f.unit END AS unit,
        s.note AS unit_note,
        f.service,
        f.sector,
        f.channel,
        CASE WHEN f.score >= 9 THEN 1 WHEN f.score <= 6 THEN -1 ELSE 0 END AS vote
    FROM feedback f
    LEFT JOIN lookup_units_series s ON s.unit_code = f.unit_code
)
SELECT
    period,
    CASE
        WHEN GROUPING(unit) = 0 THEN 'unit'
        WHEN GROUPING(service) = 0 THEN 'service'
        WHEN GROUPING(sector) = 0 THEN 'sector'
        WHEN GROUPING(channel) = 0 THEN 'channel'
    END AS dimension,
    CASE
        WHEN GROUPING(unit) = 0 THEN unit
        WHEN GROUPING(service) = 0 THEN service
        WHEN GROUPING(sector) = 0 THEN sector
        WHEN GROUPING(channel) = 0 THEN channel
    END AS member,
    ROUND(100.0 * SUM(vote) / COUNT(*), 1) AS value,
    COUNT(*) AS n,
    CASE WHEN GROUPING(unit) = 0 THEN unit_note END AS note
FROM responses
GROUP BY GROUPING SETS (
    (period), (period, unit, unit_note), (period, service), (period, sector), (period, channel)
)
