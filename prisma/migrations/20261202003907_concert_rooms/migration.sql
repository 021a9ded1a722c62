-- AlterTable
ALTER TABLE "concert" ADD COLUMN     "has_room" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "room_active_ttl_sec" INTEGER,
ADD COLUMN     "room_batch" INTEGER,
ADD COLUMN     "room_max_active" INTEGER,
ADD COLUMN     "room_tick_ms" INTEGER;
