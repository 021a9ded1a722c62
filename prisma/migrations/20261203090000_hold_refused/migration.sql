-- A hold's last statement goes to Postgres with the COMMIT in one message (apps/booking/src/db/
-- reservations.repository.ts). When it could not hold every seat it asked for, or the user's
-- limit is reached, it calls this: the statement fails, so the message's COMMIT is skipped and
-- the seats its first statement took roll back. SQLSTATE CH409 is booking's own (CH for the
-- concert hold, a class Postgres does not define).
CREATE FUNCTION "hold_refused"() RETURNS boolean
  LANGUAGE plpgsql VOLATILE
  AS $$
BEGIN
  RAISE EXCEPTION 'hold refused: not every seat was had, or the user''s hold limit is reached' USING ERRCODE = 'CH409';
END
$$;
