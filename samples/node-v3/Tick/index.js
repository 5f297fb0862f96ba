module.exports = async function (context, timer) {
    context.log(`Tick; past due: ${timer.isPastDue}`);
};
