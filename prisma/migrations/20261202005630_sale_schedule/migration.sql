-- AlterTable
ALTER TABLE "concert" ADD COLUMN     "prequeue_sec" INTEGER,
ADD COLUMN     "sale_closes_at" TIMESTAMPTZ(3),
ADD COLUMN     "sale_opens_at" TIMESTAMPTZ(3);
