-- AlterTable
ALTER TABLE "reservation" ADD COLUMN     "idempotency_key" VARCHAR(128);

-- CreateIndex
CREATE UNIQUE INDEX "reservation_user_id_idempotency_key_key" ON "reservation"("user_id", "idempotency_key");
