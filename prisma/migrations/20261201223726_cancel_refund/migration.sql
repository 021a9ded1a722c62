-- AlterEnum
ALTER TYPE "point_ledger_type" ADD VALUE 'REFUND';

-- AlterTable
ALTER TABLE "point_ledger" ADD COLUMN     "reservation_id" INTEGER;

-- AlterTable
ALTER TABLE "reservation" ADD COLUMN     "cancel_idempotency_key" VARCHAR(128),
ADD COLUMN     "cancelled_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE UNIQUE INDEX "point_ledger_reservation_id_key" ON "point_ledger"("reservation_id");

-- CreateIndex
CREATE INDEX "reservation_user_id_id_idx" ON "reservation"("user_id", "id");

-- CreateIndex
CREATE UNIQUE INDEX "reservation_user_id_cancel_idempotency_key_key" ON "reservation"("user_id", "cancel_idempotency_key");

-- AddForeignKey
ALTER TABLE "point_ledger" ADD CONSTRAINT "point_ledger_reservation_id_fkey" FOREIGN KEY ("reservation_id") REFERENCES "reservation"("id") ON DELETE SET NULL ON UPDATE CASCADE;
