-- Rescue response times by risk class (Riskialuekohtaiset toimintavalmiusajat): urgent (A, B)
-- tasks in risk classes I–III where the first unit arrived within the class target
-- (I 6 min, II 10 min, III 20 min after the alarm) / all such tasks with an arrival.
-- Tasks cancelled before anyone arrived (no arrival time) have no response time and are left
-- out of both numerator and denominator. Totals, then by risk class and municipality.
WITH tasks AS (
    SELECT
        fi_period(alarm_at) AS period,
        risk_class,
        municipality,
        CASE
            WHEN (CAST(arrived_at AS BIGINT) - CAST(alarm_at AS BIGINT))
                 <= CASE risk_class WHEN 'I' THEN 6 WHEN 'II' THEN 10 ELSE 20 END * 60000000
            THEN 1 ELSE 0
        END AS met
    FROM rescue_tasks
    WHERE urgent
      AND risk_class IN ('I', 'II', 'III')
      AND arrived_at IS NOT NULL
)
SELECT
    period,
    CASE
        WHEN GROUPING(risk_class) = 0 THEN 'risk_class'
        WHEN GROUPING(municipality) = 0 THEN 'municipality'
    END AS dimension,
    CASE
        WHEN GROUPING(risk_class) = 0 THEN risk_class
        WHEN GROUPING(municipality) = 0 THEN municipality
    END AS member,
    100.0 * SUM(met) / COUNT(*) AS value,
    SUM(met) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM tasks
GROUP BY GROUPING SETS ((period), (period, risk_class), (period, municipality))
