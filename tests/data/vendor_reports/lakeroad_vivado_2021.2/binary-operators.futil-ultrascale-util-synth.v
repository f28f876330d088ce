Copyright 1986-2021 Xilinx, Inc. All Rights Reserved.
--------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------
| Tool Version : Vivado v.2021.2 (lin64) Build 3367213 Tue Oct 19 02:47:39 MDT 2021
| Date         : Thu Jul  7 02:57:55 2022
| Host         : boba running 64-bit Ubuntu 20.04.3 LTS
| Command      : report_utilization -force -file runs/2022-07-06-1704-full/vivado-eval/xilinx-ultrascale-plus-vivado-eval//vivado-synth-opt-place-route//binary-operators.futil-ultrascale-util-synth.v
| Design       : main
| Device       : xczu3eg-sbva484-1-e
| Speed File   : -1
| Design State : Synthesized
--------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------

Utilization Design Information

Table of Contents
-----------------
1. CLB Logic
1.1 Summary of Registers by Type
2. BLOCKRAM
3. ARITHMETIC
4. I/O
5. CLOCK
6. ADVANCED
7. CONFIGURATION
8. Primitives
9. Black Boxes
10. Instantiated Netlists

1. CLB Logic
------------

+-------------------------+------+-------+------------+-----------+-------+
|        Site Type        | Used | Fixed | Prohibited | Available | Util% |
+-------------------------+------+-------+------------+-----------+-------+
| CLB LUTs*               |  500 |     0 |          0 |     70560 |  0.71 |
|   LUT as Logic          |  500 |     0 |          0 |     70560 |  0.71 |
|   LUT as Memory         |    0 |     0 |          0 |     28800 |  0.00 |
| CLB Registers           |  299 |     0 |          0 |    141120 |  0.21 |
|   Register as Flip Flop |  299 |     0 |          0 |    141120 |  0.21 |
|   Register as Latch     |    0 |     0 |          0 |    141120 |  0.00 |
| CARRY8                  |   18 |     0 |          0 |      8820 |  0.20 |
| F7 Muxes                |    0 |     0 |          0 |     35280 |  0.00 |
| F8 Muxes                |    0 |     0 |          0 |     17640 |  0.00 |
| F9 Muxes                |    0 |     0 |          0 |      8820 |  0.00 |
+-------------------------+------+-------+------------+-----------+-------+
* Warning! The Final LUT count, after physical optimizations and full implementation, is typically lower. Run opt_design after synthesis, if not already completed, for a more realistic count.


2. BLOCKRAM
-----------

+----------------+------+-------+------------+-----------+-------+
|    Site Type   | Used | Fixed | Prohibited | Available | Util% |
+----------------+------+-------+------------+-----------+-------+
| Block RAM Tile |    0 |     0 |          0 |       216 |  0.00 |
|   RAMB36/FIFO* |    0 |     0 |          0 |       216 |  0.00 |
|   RAMB18       |    0 |     0 |          0 |       432 |  0.00 |
+----------------+------+-------+------------+-----------+-------+


3. ARITHMETIC
-------------

+----------------+------+-------+------------+-----------+-------+
|    Site Type   | Used | Fixed | Prohibited | Available | Util% |
+----------------+------+-------+------------+-----------+-------+
| DSPs           |    3 |     0 |          0 |       360 |  0.83 |
|   DSP48E2 only |    3 |       |            |           |       |
+----------------+------+-------+------------+-----------+-------+
