-- LOCAL PLACEHOLDER, never committed: stands for another branch's 0008.
SELECT 1;
