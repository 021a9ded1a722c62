-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "seat_status" AS ENUM ('FREE', 'HELD', 'SOLD');

-- CreateEnum
CREATE TYPE "reservation_status" AS ENUM ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "point_ledger_type" AS ENUM ('CHARGE', 'USE');

-- CreateTable
CREATE TABLE "concert" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "concert_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "concert_detail" (
    "id" SERIAL NOT NULL,
    "concert_id" INTEGER NOT NULL,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "seat_price" INTEGER NOT NULL,

    CONSTRAINT "concert_detail_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "seat" (
    "id" SERIAL NOT NULL,
    "concert_detail_id" INTEGER NOT NULL,
    "seat_no" INTEGER NOT NULL,
    "status" "seat_status" NOT NULL DEFAULT 'FREE',
    "reservation_id" INTEGER,
    "hold_until" TIMESTAMPTZ(3),

    CONSTRAINT "seat_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" INTEGER NOT NULL,
    "point" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "point_ledger" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "type" "point_ledger_type" NOT NULL,
    "amount" BIGINT NOT NULL,
    "balance_after" BIGINT NOT NULL,
    "payment_id" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "point_ledger_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reservation" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "concert_detail_id" INTEGER NOT NULL,
    "seat_id" INTEGER NOT NULL,
    "seat_no" INTEGER NOT NULL,
    "price" INTEGER NOT NULL,
    "status" "reservation_status" NOT NULL DEFAULT 'HELD',
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "payment_id" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reservation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "amount" BIGINT NOT NULL,
    "balance_after" BIGINT NOT NULL,
    "idempotency_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payment_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "concert_detail_concert_id_starts_at_idx" ON "concert_detail"("concert_id", "starts_at");

-- CreateIndex
CREATE INDEX "seat_status_hold_until_idx" ON "seat"("status", "hold_until");

-- CreateIndex
CREATE UNIQUE INDEX "seat_concert_detail_id_seat_no_key" ON "seat"("concert_detail_id", "seat_no");

-- CreateIndex
CREATE INDEX "point_ledger_user_id_id_idx" ON "point_ledger"("user_id", "id");

-- CreateIndex
CREATE INDEX "reservation_user_id_status_idx" ON "reservation"("user_id", "status");

-- CreateIndex
CREATE INDEX "reservation_status_expires_at_idx" ON "reservation"("status", "expires_at");

-- CreateIndex
CREATE INDEX "reservation_seat_id_idx" ON "reservation"("seat_id");

-- CreateIndex
CREATE INDEX "reservation_payment_id_idx" ON "reservation"("payment_id");

-- CreateIndex
CREATE UNIQUE INDEX "payment_user_id_idempotency_key_key" ON "payment"("user_id", "idempotency_key");

-- AddForeignKey
ALTER TABLE "concert_detail" ADD CONSTRAINT "concert_detail_concert_id_fkey" FOREIGN KEY ("concert_id") REFERENCES "concert"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "seat" ADD CONSTRAINT "seat_concert_detail_id_fkey" FOREIGN KEY ("concert_detail_id") REFERENCES "concert_detail"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "point_ledger" ADD CONSTRAINT "point_ledger_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "point_ledger" ADD CONSTRAINT "point_ledger_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payment"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reservation" ADD CONSTRAINT "reservation_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reservation" ADD CONSTRAINT "reservation_concert_detail_id_fkey" FOREIGN KEY ("concert_detail_id") REFERENCES "concert_detail"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reservation" ADD CONSTRAINT "reservation_seat_id_fkey" FOREIGN KEY ("seat_id") REFERENCES "seat"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reservation" ADD CONSTRAINT "reservation_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payment"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payment" ADD CONSTRAINT "payment_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Hand-written: rules schema.prisma cannot express (Prisma's diff ignores CHECK constraints).
-- Postgres has the last word on them whatever the application or Redis does.
ALTER TABLE "seat" ADD CONSTRAINT "seat_seat_no_check" CHECK ("seat_no" BETWEEN 1 AND 50);
ALTER TABLE "seat" ADD CONSTRAINT "seat_hold_check" CHECK (("status" = 'FREE') = ("reservation_id" IS NULL));
ALTER TABLE "users" ADD CONSTRAINT "users_point_check" CHECK ("point" >= 0 AND "point" <= 9007199254740991);
ALTER TABLE "point_ledger" ADD CONSTRAINT "point_ledger_amount_check" CHECK ("amount" > 0 AND "balance_after" >= 0);
ALTER TABLE "reservation" ADD CONSTRAINT "reservation_price_check" CHECK ("price" >= 0);
ALTER TABLE "payment" ADD CONSTRAINT "payment_amount_check" CHECK ("amount" >= 0);
ALTER TABLE "concert_detail" ADD CONSTRAINT "concert_detail_seat_price_check" CHECK ("seat_price" >= 0);
-- A seat is confirmed (sold) by at most one reservation, whatever else happens.
CREATE UNIQUE INDEX "reservation_confirmed_seat_key" ON "reservation"("seat_id") WHERE "status" = 'CONFIRMED';
