-- Nurse-chat resolution (Ratkaisu-% sairaanhoitaja-chat): accepted nurse-chat sessions
-- resolved in the chat / all accepted nurse-chat sessions. Total only (one queue).
SELECT
    fi_period(requested_at) AS period,
    CAST(NULL AS VARCHAR) AS dimension,
    CAST(NULL AS VARCHAR) AS member,
    100.0 * SUM(CASE WHEN COALESCE(resolved, false) THEN 1 ELSE 0 END) / COUNT(*) AS value,
    SUM(CASE WHEN COALESCE(resolved, false) THEN 1 ELSE 0 END) AS numerator,
    COUNT(*) AS denominator,
    COUNT(*) AS n
FROM chats
WHERE nurse_chat AND accepted_at IS NOT NULL
GROUP BY fi_period(requested_at)
