// A small ALU for the planted-error Tcl benchmark (yosys scripts read it as alu.v).
module alu(input clk, input rst, input [1:0] op, input [7:0] a, b, output reg [7:0] y, output reg zero);
  always @(posedge clk)
    if (rst) begin y <= 8'd0; zero <= 1'b0; end
    else begin
      case (op)
        2'd0: y <= a + b;
        2'd1: y <= a - b;
        2'd2: y <= a & b;
        default: y <= a ^ b;
      endcase
      zero <= (y == 8'd0);
    end
endmodule
