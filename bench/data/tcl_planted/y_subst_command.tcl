yosys read_verilog alu.v
set n [yosys count_cells]
yosys synth -top alu
