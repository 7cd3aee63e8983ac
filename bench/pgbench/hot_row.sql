UPDATE acct SET balance = balance - 1 WHERE id = 1 AND balance >= 1;
