// Prints one plain closing line that CI reads: "N passed, N failed, N skipped".
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTotalTests } = results;
    if (numTotalTests === 0) console.log('0 passed, 0 failed (no test ran)');
    else console.log(`${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests} skipped`);
  }
}
module.exports = SummaryReporter;
