-- AlterTable
ALTER TABLE "concert" ADD COLUMN     "room_admit_per_free_seat" DOUBLE PRECISION;
