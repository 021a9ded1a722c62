-- AlterTable
ALTER TABLE "reservation" ADD COLUMN     "hold_group_id" INTEGER;

-- CreateIndex
CREATE INDEX "reservation_hold_group_id_idx" ON "reservation"("hold_group_id");
