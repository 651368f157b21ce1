-- Digital share of primary-care contacts (Digikäynnit % kaikista käynneistä): contacts in the
-- digital channels (Chat, Digitaalinen sote-keskus) / all primary-care outpatient contacts.
-- n is the number of contacts. Totals, then by health station and by channel.
WITH visits AS (
    SELECT
        fi_period(month) AS period,
        unit,
        channel,
        CASE WHEN digital THEN visits ELSE 0 END AS digital_visits,
        visits
    FROM primary_care_visits
)
SELECT
    period,
    CASE
        WHEN GROUPING(unit) = 0 THEN 'unit'
        WHEN GROUPING(channel) = 0 THEN 'channel'
    END AS dimension,
    CASE
        WHEN GROUPING(unit) = 0 THEN unit
        WHEN GROUPING(channel) = 0 THEN channel
    END AS member,
    100.0 * SUM(digital_visits) / SUM(visits) AS value,
    SUM(digital_visits) AS numerator,
    SUM(visits) AS denominator,
    SUM(visits) AS n
FROM visits
GROUP BY GROUPING SETS ((period), (period, unit), (period, channel))
