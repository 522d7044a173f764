// timer.v - Pico SoC TIMER0: 32-bit up-counter with 8-bit prescaler and compare match.
// Register map (offsets from 0x4000_2000), see docs/timer.html:
//   0x00 CTRL    [0] EN [1] AUTO_RELOAD [2] IRQ_EN [15:8] PRESCALE
//   0x04 COUNT   [31:0] (RW; writes load the counter)
//   0x08 COMPARE [31:0] reset 0xFFFF_FFFF
//   0x0C STATUS  [0] MATCH (W1C)
// The counter advances once every (PRESCALE + 1) clocks. On COUNT == COMPARE,
// MATCH is set; with AUTO_RELOAD the counter restarts from 0, otherwise it runs on.
module timer (
    input  wire        clk,
    input  wire        rst_n,
    input  wire        psel,
    input  wire        penable,
    input  wire        pwrite,
    input  wire [7:0]  paddr,
    input  wire [31:0] pwdata,
    output reg  [31:0] prdata,
    output wire        pready,
    output wire        irq
);
    localparam A_CTRL    = 8'h00;
    localparam A_COUNT   = 8'h04;
    localparam A_COMPARE = 8'h08;
    localparam A_STATUS  = 8'h0C;

    reg  [2:0]  ctrl;
    reg  [7:0]  prescale;
    reg  [7:0]  pre_cnt;
    reg  [31:0] count;
    reg  [31:0] compare;
    reg         match;

    wire wr   = psel & penable & pwrite;
    wire step = ctrl[0] && (pre_cnt == prescale);
    wire hit  = step && (count == compare);

    assign pready = 1'b1;
    assign irq    = ctrl[2] & match;

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            ctrl     <= 3'b000;
            prescale <= 8'd0;
            pre_cnt  <= 8'd0;
            count    <= 32'd0;
            compare  <= 32'hFFFF_FFFF;
            match    <= 1'b0;
        end else begin
            if (wr && paddr == A_CTRL) begin
                ctrl     <= pwdata[2:0];
                prescale <= pwdata[15:8];
                pre_cnt  <= 8'd0;
            end else if (ctrl[0]) begin
                pre_cnt <= step ? 8'd0 : pre_cnt + 8'd1;
            end
            if (wr && paddr == A_COMPARE) compare <= pwdata;
            if (wr && paddr == A_COUNT)
                count <= pwdata;
            else if (hit && ctrl[1])
                count <= 32'd0;
            else if (step)
                count <= count + 32'd1;
            if (hit)
                match <= 1'b1;
            else if (wr && paddr == A_STATUS && pwdata[0])
                match <= 1'b0;
        end
    end

    always @(*) begin
        case (paddr)
            A_CTRL:    prdata = {16'd0, prescale, 5'd0, ctrl};
            A_COUNT:   prdata = count;
            A_COMPARE: prdata = compare;
            A_STATUS:  prdata = {31'd0, match};
            default:   prdata = 32'd0;
        endcase
    end
endmodule
